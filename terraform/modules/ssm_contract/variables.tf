variable "prefix" {
  description = "Parameter path prefix, /anomaly-guardian/<env>."
  type        = string

  validation {
    condition     = can(regex("^/anomaly-guardian/(dev|staging|prod)$", var.prefix))
    error_message = "prefix must be /anomaly-guardian/<dev|staging|prod>."
  }
}

variable "values" {
  description = "String parameters, keyed by path below the prefix (e.g. kinesis/stream-name)."
  type        = map(string)
}

variable "list_values" {
  description = "StringList parameters (subnet and security group ids), keyed by path below the prefix."
  type        = map(list(string))
  default     = {}
}

variable "tags" {
  description = "Tags added to every parameter."
  type        = map(string)
  default     = {}
}
