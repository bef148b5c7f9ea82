import pytest

from vigil.assets import CENTERFACE_PATH
from vigil.runtime import ProviderUnavailableError, create_session, resolve_providers


def test_cpu_session_runs_on_cpu():
    session = create_session(CENTERFACE_PATH, device="cpu", threads=1)
    assert session.get_providers()[0] == "CPUExecutionProvider"


def test_asking_for_a_missing_provider_is_an_error_not_a_silent_fallback():
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ProviderUnavailableError, match="CUDAExecutionProvider"):
        create_session(CENTERFACE_PATH, device="cuda")


def test_auto_never_picks_azure_and_unknown_device_is_rejected():
    assert resolve_providers("auto")[-1] == "CPUExecutionProvider"
    assert "AzureExecutionProvider" not in resolve_providers("auto")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_providers("tpu")


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope.onnx"):
        create_session(tmp_path / "nope.onnx")


@pytest.mark.gpu
def test_cuda_session_when_a_gpu_is_present():
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("no CUDA provider in this onnxruntime build")
    session = create_session(CENTERFACE_PATH, device="cuda")
    assert session.get_providers()[0] == "CUDAExecutionProvider"


def test_a_gpu_device_that_is_not_there_is_an_error_naming_the_field():
    import onnxruntime as ort

    from vigil.detection import ObjectDetectorConfig, build_detector
    from vigil.redaction import RedactionConfig, Redactor

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    for device in ("cuda", "tensorrt"):
        wanted = rf"detector\.device is '{device}'.*set detector\.device: cpu"
        with pytest.raises(ProviderUnavailableError, match=wanted):
            build_detector(ObjectDetectorConfig(device=device))
    with pytest.raises(ProviderUnavailableError, match=r"redaction\.detector\.device is 'cuda'"):
        Redactor(RedactionConfig(detector={"device": "cuda"}))
