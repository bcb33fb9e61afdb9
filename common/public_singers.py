"""The 56 singer vectors (float32 [256] d-vectors) of the public so-vits-svc-5.0 pretrain, fetched by
`svc_download.py --only singers` into configs/singers/. Their SHA-256 were computed from the git blobs
of PlayVoice/whisper-vits-svc (unchanged since they were added in commit a749317, April 2023)."""
import os

REPO = "PlayVoice/whisper-vits-svc"
COMMIT = "b95a84954d74f651982c0ecea5f7eb67f9c02d46"  # a commit of the default branch that holds them
FOLDER = os.path.join("configs", "singers")
DIM = 256

SHA256 = (
    "e2879921d43bdbf11fc5d6ac91f434f905a2c5e59d75368bfbf3c6bdbddcb3cf",  # singer0001.npy
    "fbe5c7925c2fdb514e2c5b450de1d2737ec7f86f1c65eeb488c1888c0b9a7069",  # singer0002.npy
    "5665126aeb6c6fab89c79b90debf2ce2e64b321076dcb414089eff8848eac8b4",  # singer0003.npy
    "79f0fe5993e9adcaeae25b0fa68265d40c9c1b5539ca12d6e438477de2177819",  # singer0004.npy
    "1158fb447929cf9400a31675cf9992fd3ed7558e061562189d9e6bf56d83fb2a",  # singer0005.npy
    "06c1fd3a9afaa7944e4b81b7ca787e667b0dae8c7e90c6d24177245449f4e940",  # singer0006.npy
    "36611b9e57545332b9fb97fd35a356fbe8d60258f2f5e2232168481bb6dfab5b",  # singer0007.npy
    "8584ad6f3569a1307082cd410085d9a562807e962274b89b72487c7bc79124d4",  # singer0008.npy
    "b069db4e3e5ca389ffba974c74eab46caf4c60545773e5f7e5e253310619073e",  # singer0009.npy
    "7d4d92735e4bac1618e89198d113013db09061b6c1f74ba0c500b70b097cd407",  # singer0010.npy
    "942388b4276dc06ee365f59c324ce1642e4bf810dcc99992739787e3b9ad135d",  # singer0011.npy
    "3411efcf4ee4f534cea2b742c2eca166ae971efbceab21fb41b77b8923a1ba3a",  # singer0012.npy
    "6e8e30cd1bce61405db194278dd7bf207d16abf656dd22f9a20f29e3657674f3",  # singer0013.npy
    "f9cc8200753b4ba7605c9a13bf454b100025965135c5d816f7440ec53a2e6dd4",  # singer0014.npy
    "dcb58688e51dbdeb22e5dd85d27ff3904c4594c78420b8e9c9ab481adbecc5fe",  # singer0015.npy
    "66a3c6162b8c937e9e8bbdc806b873866afce4b110664831642f7b41922bbf39",  # singer0016.npy
    "84782c98c930bd980f350837f4b3e8e193c49ef46aef9f92471c6136659975a9",  # singer0017.npy
    "731ebafda06aecedfd79941978149a0f87595f04e24eab7ed5300defe9070fc0",  # singer0018.npy
    "3d88e620994e4413c4c58ffb9239ef46ded60ff3eab0715c7af96cbe4092198f",  # singer0019.npy
    "3e5abaabe5457a20161351dcf5f8737d63a2a92fb1de1842ea9e92e47b9ca6fe",  # singer0020.npy
    "1d7f99c92c89a44c1f2dd0688f033f0593c8c88b0537b092928bfbaa63a8d3e9",  # singer0021.npy
    "33becb1da48b12ba4957a0ef0b25bbd51e100d5762ebc4c7d381f6b957e682a2",  # singer0022.npy
    "7f49cbaf3f7653f48f80854a513a334f31dca719a09cca66e257995ce4a741a9",  # singer0023.npy
    "92ed584994d56473c8bab0799d213e927c5a2928facef2b93a2f95f764d868b4",  # singer0024.npy
    "14b7e1f55393d5beaa2f3bbd0ef7f2be7e108993c680acb265ff24df19f7062b",  # singer0025.npy
    "92ecc9aa68f136960c00e98aaca16e92c38960bc7eb9687aee90190972974726",  # singer0026.npy
    "f5a8a1c2a445179d38664fb55c84ee9a36350beee50efa9f850d29b394447bfa",  # singer0027.npy
    "b79b8266c8d368dc99f49a347b2631e1e5cfb44056b5a9ab4470b42f9851ee35",  # singer0028.npy
    "60fa5fd9e8ba14d7f6d67304842f16382f7d2e739969bde9551222ff8c282775",  # singer0029.npy
    "2f5070e4196c91fa713aed20aedb2a570a7b2ad8301ee61f59821dafaea3c6a7",  # singer0030.npy
    "47f4f8c065be1c5448c1b80e5c99087e7357cf1f8a8a55f2d844ccf1ca4931e6",  # singer0031.npy
    "019f40cf49cb7ccb44fb9c6a9f6345e84f837185a1642623144b4e2969c8738b",  # singer0032.npy
    "2e05e212c93fc9e7b13174dd76721ee891bb4ea8bb1638a4c43523ed65d30f67",  # singer0033.npy
    "715a089dd9b3e5cbf021b0f41055f59208911e49cccf375ecf8b82544f325c3d",  # singer0034.npy
    "9af8cd05182ec53ff573bce53dad049759bea1de5656915f414910eaf47f61ed",  # singer0035.npy
    "3cec474244d86acfd24d6abf7e033b24b40b838cba2fcd3b4d0e5611313d67ef",  # singer0036.npy
    "316e3435d373e352fe95fcb2ec0ab1c8afdeb270ce9f13c940ba91187eecdcf3",  # singer0037.npy
    "0e6458e251512dab86abce504490de6762f9c2de66ddbc853c24c3d05eb39c96",  # singer0038.npy
    "c2e484ae33eef7ac92dd784e9e3b9bca7e6c0838d50b43c674da47620f281f20",  # singer0039.npy
    "7b3a104163ad4cf87caff70b845b2c3e70190ce430a8f21247d350ef102071dc",  # singer0040.npy
    "962ba35045f952562bbf68239c8abfda4e1888118fae7ef19814282abee2d28e",  # singer0041.npy
    "0cf0871ba7e939c90f2f027862f80e11151d8b1a21b6624ee05f184d024b35a3",  # singer0042.npy
    "9494ed20a9b095d19cce17619a6372ba3371f980c643078ffda8649a30ac2f8b",  # singer0043.npy
    "c12949caa6176fbe5f323cf643d29eef14af9a3ee03be27c938d8bb6fc2922f1",  # singer0044.npy
    "222adf210792d1b2745ef98b717f57e0d309d8176e9b59ff56063c1e2001728d",  # singer0045.npy
    "6070f66f028928114493a363e4117636afefb1a094c54ffc01f89ef261ad1882",  # singer0046.npy
    "7c8bb2fb993a55d13996df74463408c8e7e8d5e24b391887813e2ac1c204c9c4",  # singer0047.npy
    "5b33ee26125ae840494dc2cb3839f7a2f6b48571c15ebc7f0aa9f2b0fef5022e",  # singer0048.npy
    "e9a8d97dd4d320e4049c39e112587416d06aa70ec52c05417519bac70fe76556",  # singer0049.npy
    "8fc8cf73923c6a567a134bffa037b3c9d1dcfde75d5a976238df222d91517d9f",  # singer0050.npy
    "a142fdcdb2fa1e69d09df6de3f96bf863038da4e27f51320adb5483cb4f5d306",  # singer0051.npy
    "a2fb5dcbe59a636f84c9522a3278b601358584fdc340dff8db06eaa544fddd4b",  # singer0052.npy
    "893f50a74fdf3e7f27debc52fd739cd96a147ae2dcbeb34e2fb8fd328fa698a5",  # singer0053.npy
    "151b0206dd960b1304f8d752e0502e9c7b0260326f7b932b278773aa0c5bb3ef",  # singer0054.npy
    "aa92ab16df7f82f5bde66501629310a5a250ff61d5f467a7ff2b0c97fe6d8066",  # singer0055.npy
    "07022464dcb678dddd3957ea431e53b4c79fd1904927d2622faef5c521da1b5e",  # singer0056.npy
)


def file_name(index):
    return f"singer{index:04d}.npy"

