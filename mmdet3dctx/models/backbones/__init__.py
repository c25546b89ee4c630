from .densenet3d import DenseNet3D
from .inflated_swin import InflatedSwinTransformer
from .mp3d_resnet import MP3DResNet
from .resnet3d import ResNet3D
from .thickened_resnet import ThickenedResNet

__all__ = ['DenseNet3D', 'ResNet3D', 'MP3DResNet', 'InflatedSwinTransformer', 'ThickenedResNet']
