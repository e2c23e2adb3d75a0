#!/bin/bash
# dracut module "ostree-sharp-test" (tests/vm/build-guest.sh): the test
# guest's additions to its initramfs.

# Only when asked for (dracutmodules in dracut.conf.d/90-ostree-sharp-test.conf).
check() {
    return 255
}

depends() {
    echo systemd
}

install() {
    # virtio_blk loaded before udev starts; no address space randomization.
    inst_simple /usr/lib/modules-load.d/ostree-sharp-test.conf
    inst_simple /usr/lib/sysctl.d/50-ostree-sharp-test.conf
    # A failed boot powers off instead of waiting in emergency mode.
    inst_simple "$systemdsystemunitdir/emergency.service"
    inst_multiple echo timeout journalctl systemctl
}
