"""lstm-asr: speech recognition with LSTM / GRU / RNN acoustic models trained with CTC.

audio -> features -> recurrent acoustic model -> CTC posteriors -> decoder -> text.
"""
from .errors import AsrError, AudioError, ConfigError, ManifestError
from .transcribe import Recognizer, Transcript, load_model

__version__ = "0.1.0"
__all__ = ["load_model", "Recognizer", "Transcript", "AsrError", "AudioError", "ConfigError", "ManifestError"]
