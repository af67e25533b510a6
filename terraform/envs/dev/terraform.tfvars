# dev: smallest footprint; one NAT, no dedicated masters, buckets removable.
single_nat_gateway           = true
kinesis_stream_mode          = "ON_DEMAND"
opensearch_instance_type     = "t3.medium.search"
opensearch_instance_count    = 2
opensearch_dedicated_masters = false
opensearch_volume_size_gb    = 20
log_retention_days           = 365
force_destroy                = true
