"""What the agent keeps on disk: origin approvals, the audit log, the local-program token, paths, atomic writes, secret files."""
