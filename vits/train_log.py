"""Training logs on rank 0: a plain text file logs/<name>/train.log (+ stderr) and TensorBoard
scalars, mel images and audio in logs/<name>/. Other ranks get a logger that writes nothing."""
import logging
import os

import numpy as np


def mel_figure_image(mel_real, mel_fake):
    """Two mel spectrograms [mels, frames] -> an RGB image [H, W, 3] uint8 (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    low = float(min(mel_real.min(), mel_fake.min()))
    high = float(max(mel_real.max(), mel_fake.max()))
    for ax, mel, title in ((axes[0], mel_real, "real"), (axes[1], mel_fake, "generated")):
        im = ax.imshow(mel, aspect="auto", origin="lower", interpolation="none", vmin=low, vmax=high)
        ax.set_title(title)
        ax.set_ylabel("mel bin")
    axes[1].set_xlabel("frame")
    fig.colorbar(im, ax=list(axes))
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


class TrainLogger:
    def __init__(self, log_dir, enabled=True, name="svc_trainer"):
        self.enabled = enabled
        self.log_dir = log_dir
        self.writer = None
        self.logger = logging.getLogger(f"{name}.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        if not enabled:
            self.logger.addHandler(logging.NullHandler())
            return
        os.makedirs(log_dir, exist_ok=True)
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        for handler in (logging.FileHandler(os.path.join(log_dir, "train.log"), encoding="utf-8"),
                        logging.StreamHandler()):
            handler.setFormatter(fmt)
            self.logger.addHandler(handler)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir)

    def info(self, message):
        self.logger.info(message)

    def warning(self, message):
        self.logger.warning(message)

    def scalars(self, values, step, prefix="train/"):
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(prefix + key, float(value), step)

    def mel_image(self, tag, mel_real, mel_fake, step):
        if self.writer is not None:
            self.writer.add_image(tag, mel_figure_image(mel_real, mel_fake), step, dataformats="HWC")

    def audio(self, tag, wav, step, sampling_rate):
        if self.writer is not None:
            wav = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
            self.writer.add_audio(tag, wav, step, sample_rate=int(sampling_rate))

    def flush(self):
        if self.writer is not None:
            self.writer.flush()
        for handler in self.logger.handlers:
            handler.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        for handler in list(self.logger.handlers):
            handler.close()
            self.logger.removeHandler(handler)
