output "function_urls" {
  description = "cloudfunctions.net URL of every function."
  value       = local.function_url
}

output "function_service_uris" {
  description = "Cloud Run service URL of every function (push endpoints)."
  value       = { for name, f in module.function : name => f.uri }
}

output "webhook_settings" {
  description = "Rows for app_settings (docs/deploying.md); the signing secret is added by hand."
  value = {
    "webhook.sms_sender_url"           = try(local.function_url["sms_sender"], null)
    "webhook.event_dispatcher_url"     = try(local.function_url["event_dispatcher"], null)
    "webhook.task_sweeper_url"         = try(local.function_url["task_sweeper"], null)
    "webhook.message_orchestrator_url" = try(local.function_url["message_orchestrator"], null)
  }
}

output "twilio_webhook_urls" {
  description = "Where the Twilio number points (with the trailing slash the signature check expects)."
  value = {
    inbound = try("${local.function_url["twilio_inbound"]}/", null)
    status  = try("${local.function_url["twilio_status"]}/", null)
  }
}

output "function_service_accounts" {
  description = "Runtime identity of every function."
  value       = { for name, f in module.function : name => f.service_account_email }
}

output "scheduler_service_account" {
  description = "Identity in the scheduler's OIDC tokens."
  value       = google_service_account.scheduler.email
}

output "pubsub_push_service_account" {
  description = "Identity in the push subscriptions' OIDC tokens."
  value       = google_service_account.pubsub_push.email
}

output "topics" {
  description = "Topic, dead-letter topic and subscriptions per route."
  value       = module.topic
}

output "scheduled_jobs" {
  description = "Jobs created (planned jobs whose function does not exist are absent)."
  value       = keys(module.schedule)
}

output "source_bucket" {
  description = "Bucket of the content-addressed source zips."
  value       = google_storage_bucket.sources.name
}
