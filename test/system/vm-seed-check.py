#!/usr/bin/python3
"""Reads a VM node's cloud-init inputs with cloud-init's own code (Debian 12: cloud-init 22.4).

  vm-seed-check.py nocloud META_DATA NETWORK_CONFIG
      NoCloud seed files (libvirt_cloudinit_disk): meta-data and network-config as cloud-init
      loads them (cloudinit.util.load_yaml).
  vm-seed-check.py vmware METADATA METADATA_ENCODING USERDATA USERDATA_ENCODING USERDATA_OUT
      guestinfo values (vsphere_virtual_machine extra_config) decoded and processed by
      cloudinit.sources.DataSourceVMware (decode, load_json_or_yaml, process_metadata); the
      decoded user-data is written to USERDATA_OUT.

Prints JSON: {"metadata": {...without network...}, "network": {...network config...}}.
Exit 1 with a message when cloud-init cannot read the input.
"""
import json
import sys

from cloudinit import util
from cloudinit.sources import DataSourceVMware as vmware


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def nocloud(meta_path, network_path):
    metadata = util.load_yaml(read(meta_path))
    network = util.load_yaml(read(network_path))
    if not isinstance(metadata, dict):
        fail("meta-data is not a mapping")
    if not isinstance(network, dict):
        fail("network-config is not a mapping")
    return {"metadata": metadata, "network": network}


def guestinfo(md_path, md_enc, ud_path, ud_enc, ud_out):
    md_raw = vmware.decode("metadata", md_enc, read(md_path))
    metadata = vmware.process_metadata(vmware.load_json_or_yaml(md_raw))
    if not isinstance(metadata, dict):
        fail("guestinfo.metadata is not a mapping")
    network = metadata.pop("network", {}).get("config")
    if not isinstance(network, dict):
        fail("guestinfo.metadata has no network mapping")
    userdata = vmware.decode("userdata", ud_enc, read(ud_path))
    with open(ud_out, "w", encoding="utf-8") as f:
        f.write(userdata)
    return {"metadata": metadata, "network": network}


def main(argv):
    if len(argv) == 3 and argv[0] == "nocloud":
        out = nocloud(argv[1], argv[2])
    elif len(argv) == 6 and argv[0] == "vmware":
        out = guestinfo(*argv[1:])
    else:
        fail(__doc__)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
