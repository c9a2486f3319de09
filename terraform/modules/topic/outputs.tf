output "topic" {
  description = "Topic id."
  value       = google_pubsub_topic.main.name
}

output "dead_letter_topic" {
  description = "Dead-letter topic id."
  value       = google_pubsub_topic.dead_letter.name
}

output "subscription" {
  description = "Push subscription to the consumer."
  value       = google_pubsub_subscription.push.name
}

output "dead_letter_subscription" {
  description = "Push subscription to the dead_letter_recorder."
  value       = google_pubsub_subscription.dead_letter.name
}
