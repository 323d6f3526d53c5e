"""Starting and configuring the agent: settings, lifecycle, logs, local TLS, autostart, doctor, the test PKI."""
