"""The model provider seam: requests, calls, usage, prices and the model catalogue. The only package
that imports the anthropic SDK.
"""
