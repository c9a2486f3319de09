output "function_urls" {
  description = "cloudfunctions.net URL of every function."
  value       = module.platform.function_urls
}

output "webhook_settings" {
  description = "app_settings rows for the database webhooks (docs/deploying.md)."
  value       = module.platform.webhook_settings
}

output "twilio_webhook_urls" {
  description = "Where the Twilio number and status callbacks point."
  value       = module.platform.twilio_webhook_urls
}

output "scheduled_jobs" {
  description = "Scheduler jobs created in this environment."
  value       = module.platform.scheduled_jobs
}
