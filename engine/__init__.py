"""labconsole engine: training, evaluation, data and models; imports nothing heavy at package level."""
