"""Recurrent cells and batch-first sequence layers: classic RNN/LSTM/GRU and liquid CfC/LTC."""
