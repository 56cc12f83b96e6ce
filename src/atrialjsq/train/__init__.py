"""Trainer loop, schedules, augmentation, checkpoints and DDP."""
