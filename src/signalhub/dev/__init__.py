"""Development tooling: starting signalhub and its servers on one machine."""
