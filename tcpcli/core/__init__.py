"""tcpcli.core"""
