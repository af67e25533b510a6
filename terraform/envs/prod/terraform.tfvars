# prod: NAT per AZ, dedicated masters, provisioned Kinesis sized for 2M events/day
# (~23 events/s average, 10x peaks well inside 1 MB/s per shard with 2 shards).
single_nat_gateway           = false
kinesis_stream_mode          = "PROVISIONED"
kinesis_shard_count          = 2
opensearch_instance_type     = "r7g.large.search"
opensearch_instance_count    = 2
opensearch_dedicated_masters = true
opensearch_volume_size_gb    = 100
log_retention_days           = 365
force_destroy                = false

# The console is served on its own domain in prod (TLSv1.2_2021; the module refuses to plan without both):
# an ACM certificate in us-east-1 covering the name, e.g.
# console_domain_name     = "console.example.com"
# console_certificate_arn = "arn:aws:acm:us-east-1:111122223333:certificate/..."

# From the account that pays the bill (standalone or the organization's management account), once the tags
# appear in billing data: lets the monthly report's system_cost filter Cost Explorer by the stack's tags.
# cost_allocation_tag_keys = ["project", "environment"]
