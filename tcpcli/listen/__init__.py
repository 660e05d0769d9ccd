"""tcpcli.listen"""
