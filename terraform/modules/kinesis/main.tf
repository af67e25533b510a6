# The event stream: KMS-encrypted, on-demand by default. Partition keys ({tenant}#{userId}) keep each
# entity on one shard so the detector owns its state.
resource "aws_kinesis_stream" "events" {
  name             = var.name
  shard_count      = var.stream_mode == "PROVISIONED" ? var.shard_count : null
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = var.kms_key_arn
  tags             = var.tags

  shard_level_metrics = ["IncomingBytes", "IncomingRecords", "IteratorAgeMilliseconds", "WriteProvisionedThroughputExceeded"]

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
