"""The processor: the Faust app and agent, the batch projector, dead letters and replay."""
