"""Watching the AWS account itself: CloudTrail records turned into contract events (docs/architecture.md)."""
