"""tcpcli.net"""
