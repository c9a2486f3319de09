output "name" {
  description = "Deployed function name (hyphenated)."
  value       = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "URL of the function's Cloud Run service: push endpoints and OIDC audiences use it."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "url" {
  description = "The cloudfunctions.net URL (what Twilio and the database webhooks call)."
  value       = google_cloudfunctions2_function.this.url
}

output "service" {
  description = "Name of the underlying Cloud Run service."
  value       = google_cloudfunctions2_function.this.service_config[0].service
}

output "service_account_email" {
  description = "The function's own runtime identity."
  value       = google_service_account.runtime.email
}

output "source_object" {
  description = "Content-addressed source object."
  value       = google_storage_bucket_object.source.name
}
