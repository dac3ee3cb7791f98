"""What the Zalo channels share: OA tokens, phone numbers, ZBS template configuration."""
