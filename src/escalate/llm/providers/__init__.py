"""Model providers: one module per API, each implementing ``llm.protocols.Provider``."""
