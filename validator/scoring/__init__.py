"""Dataset scoring: LoRA-train the fixed base model on a miner's dataset, measure eval loss on the validator's
fixed eval set (assistant tokens only). In-process (`scorer.py`) or as Ray tasks (`ray_runner.py`)."""
