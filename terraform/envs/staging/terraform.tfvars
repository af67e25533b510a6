# staging: production shape at smaller sizes; one NAT.
single_nat_gateway           = true
kinesis_stream_mode          = "ON_DEMAND"
opensearch_instance_type     = "m7g.large.search"
opensearch_instance_count    = 2
opensearch_dedicated_masters = false
opensearch_volume_size_gb    = 50
log_retention_days           = 365
force_destroy                = false
