"""The validator of the edgeproof Bittensor subnet: it scores miners' datasets by LoRA fine-tuning a fixed base
model and measuring eval loss, combines that with the PoAI integrity of each miner's node, and sets weights.

    validator.chain      the chain behind one interface: LocalChain (embedded) and BittensorChain (bittensor 11)
    validator.datasets   dataset intake: validation with reasons, duplicates across miners, the dataset store
    validator.scoring    training + eval loss per dataset, cached per (miner, revision, preset)
    validator.weights    losses -> win rates -> EMA -> weights, combined with PoAI integrity
    validator.service    the loop at the subnet's cadence, its persisted state, metrics
"""
