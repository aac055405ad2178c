"""lstm-asr: speech recognition with LSTM / GRU / RNN acoustic models trained with CTC.

audio -> features -> recurrent acoustic model -> CTC posteriors -> decoder -> text.
"""
import os

# oneDNN keeps one compiled RNN primitive per input shape (up to 1024 by default); long audio cut
# into segments of ever-different lengths made that cache grow without bound (516 MB after one hour
# of audio vs 359 MB after three minutes). A small cache keeps memory flat at no measured speed cost.
# Must be set before torch runs its first oneDNN primitive; a user's own setting wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")

from .errors import AsrError, AudioError, ConfigError, ManifestError  # noqa: E402
from .transcribe import DecodeOptions, Recognizer, Transcript, load_model  # noqa: E402
from .streaming import StreamingRecognizer  # noqa: E402

__version__ = "0.1.0"
__all__ = ["load_model", "DecodeOptions", "Recognizer", "StreamingRecognizer", "Transcript", "AsrError", "AudioError", "ConfigError", "ManifestError"]
