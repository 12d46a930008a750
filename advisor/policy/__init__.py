"""Policy: the policy file, the rules it holds, and screening catalog entries by them."""
