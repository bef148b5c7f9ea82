"""Inference runtimes (onnxruntime sessions with explicit, verified providers)."""

from vigil.runtime.onnx import ProviderUnavailableError, create_session, resolve_providers

__all__ = ["ProviderUnavailableError", "create_session", "resolve_providers"]
