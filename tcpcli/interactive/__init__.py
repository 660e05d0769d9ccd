"""tcpcli.interactive"""
