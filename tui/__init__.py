"""labconsole's Textual console; never imports torch, torchvision, timm or faiss (tests enforce it)."""
