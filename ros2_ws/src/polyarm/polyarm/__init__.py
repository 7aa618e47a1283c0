"""polyarm: the command-line entry point and tools that span the stack."""
