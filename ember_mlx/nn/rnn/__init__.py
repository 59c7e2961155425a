"""Recurrent cells and batch-first sequence layers: classic RNN/LSTM/GRU and liquid CfC/LTC."""

from ember_mlx.nn.rnn.cfc import CfC
from ember_mlx.nn.rnn.cfc_cell import CfCCell
from ember_mlx.nn.rnn.gru import GRU, GRUCell
from ember_mlx.nn.rnn.lstm import LSTM, LSTMCell
from ember_mlx.nn.rnn.ltc import LTC
from ember_mlx.nn.rnn.ltc_cell import LTCCell
from ember_mlx.nn.rnn.ncp import NCP, AutoNCP
from ember_mlx.nn.rnn.rnn import RNN, RecurrentCell, RecurrentLayer, RNNCell
from ember_mlx.nn.rnn.sequence import MixedMemoryCell
from ember_mlx.nn.rnn.stride_aware import StrideAwareCell, StrideAwareCfC, StrideAwareWiredCfCCell
from ember_mlx.nn.rnn.wired_cfc import WiredCfCCell

__all__ = [
    "GRU",
    "LSTM",
    "LTC",
    "NCP",
    "RNN",
    "AutoNCP",
    "CfC",
    "CfCCell",
    "GRUCell",
    "LSTMCell",
    "LTCCell",
    "MixedMemoryCell",
    "RNNCell",
    "RecurrentCell",
    "RecurrentLayer",
    "StrideAwareCell",
    "StrideAwareCfC",
    "StrideAwareWiredCfCCell",
    "WiredCfCCell",
]
