"""The write edge: request models, the command contract, the publisher and the outcome waiter."""
