"""HTTP door (to be built): see the Foundation issue."""

from fastapi import APIRouter

router = APIRouter()
