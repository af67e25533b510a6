"""Watching the AWS account itself: CloudTrail records turned into contract events (DESIGN.md)."""
