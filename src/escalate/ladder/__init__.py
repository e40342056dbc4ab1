"""The escalation ladder for one task: set-up, tiers and attempts, the policy that moves up, the presets."""
