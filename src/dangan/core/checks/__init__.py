"""Four-property checks (四性检测): catalogue, stage profiles, runner, report model."""
