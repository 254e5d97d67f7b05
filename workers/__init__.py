"""RQ jobs: routing, alerts, escalation, retention."""
