provider "google" {
  project = var.project_id
  region  = var.region

  # The Billing Budget API refuses user credentials without a quota project: every call names
  # this project as the one to bill (the caller needs serviceusage.services.use on it).
  billing_project       = var.project_id
  user_project_override = true
}

module "catalog" {
  source = "../../modules/catalog"
}

module "platform" {
  source = "../../modules/platform"

  project_id  = var.project_id
  region      = var.region
  environment = var.environment
  build_dir   = "${path.root}/../../../build"

  functions            = module.catalog.functions
  routes               = module.catalog.routes
  dead_letter_recorder = module.catalog.dead_letter_recorder
  schedules            = module.catalog.schedules

  settings              = var.settings
  function_overrides    = var.function_overrides
  default_max_instances = var.default_max_instances
  operators             = var.operators
  log_level             = var.log_level
  notification_channels = var.notification_channels
  billing_account       = var.billing_account
  monthly_budget_usd    = var.monthly_budget_usd

  pubsub_agent_token_creator = var.pubsub_agent_token_creator
  enabled_optional_secrets   = var.enabled_optional_secrets
}
