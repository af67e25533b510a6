"""GDPR erasure of one person across every store (see docs/privacy.md): `service.SubjectEraser`."""
