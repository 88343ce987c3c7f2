"""Helpers the test suite shares: throwaway databases and live server processes."""
