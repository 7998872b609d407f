// SPDX-License-Identifier: GPL-2.0
/*
 * Open, configure as QEMU does, move frames both ways, close: many times.
 * Whatever a device holds must go with it: the taps it was bound to (a
 * leaked socket reference keeps a tap interface alive) and the module
 * references. leak_test.sh runs this between two slab snapshots for the
 * memory itself.
 *
 * Usage: net_cycles [harness options]; RVHOST_CYCLES sets the count
 * (default 100).
 */

#include "net_test.h"

static const struct ncfg cycle_cfg = {
	.v1 = true, .mrg = true, .event_idx = true, .indirect = true,
	.num = 256,
};

static int count_netdevs(void)
{
	struct dirent *e;
	DIR *d = opendir("/sys/class/net");
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int module_refcnt(void)
{
	const char *m = vdev_is_rvhost(VDEV_NET) ?
		"/sys/module/rvhost_net/refcnt" : "/sys/module/vhost_net/refcnt";
	char buf[32];

	if (!read_small_file(m, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

FIXTURE(net_cycles) {};
FIXTURE_SETUP(net_cycles) {}
FIXTURE_TEARDOWN(net_cycles) {}

TEST_F_TIMEOUT(net_cycles, open_traffic_close, 900)
{
	const char *env = getenv("RVHOST_CYCLES");
	int cycles = env ? atoi(env) : 100;
	int devs = count_netdevs(), refs = module_refcnt();
	struct nctx n;
	int i;

	ASSERT_LE(0, devs);
	ASSERT_LE(0, refs);
	for (i = 0; i < cycles; i++) {
		ASSERT_TRUE(net_open(_metadata, &n, &cycle_cfg, 1))
			TH_LOG("cycle %d", i);
		ASSERT_TRUE(net_tx_slots(&n, 16, 2048));
		ASSERT_TRUE(net_rx_slots(&n));
		net_configure(_metadata, &n);
		net_traffic_ok(_metadata, &n, 8, 8, gen_small);
		nctx_free(&n);
	}
	/* A tap goes away when its last file reference does. */
	for (i = 0; i < 50 && count_netdevs() != devs; i++)
		usleep(100000);
	ASSERT_EQ(devs, count_netdevs());
	ASSERT_EQ(refs, module_refcnt());
}

TEST_HARNESS_MAIN
