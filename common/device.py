"""Device selection shared by the CLIs (`--device auto|cpu|cuda|cuda:N`)."""
import torch


def pick_device(name="auto"):
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available on this machine. Use --device cpu or auto.")
    return device
