from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import linux_exports

EXPORT = {"name": "box", "path": "/srv/k3s", "clients": ["192.168.1.0/24", "10.0.0.5"], "squash": "none",
          "anonymous_uid": 65534, "anonymous_gid": 65534, "nfs_version": "4.1"}


def test_the_kernel_line_exports_read_write_to_every_client_without_squashing_root():
    text = linux_exports.kernel_text(EXPORT)
    assert text.splitlines()[1] == ('"/srv/k3s" 192.168.1.0/24(rw,sync,no_subtree_check,no_root_squash) '
                                    '10.0.0.5(rw,sync,no_subtree_check,no_root_squash)')
    assert linux_exports.file_basename("kernel", "box") == "stateshift-box.exports"


def test_squashing_everyone_names_the_anonymous_ids():
    text = linux_exports.kernel_text(dict(EXPORT, squash="all", anonymous_uid=1024, anonymous_gid=100, clients=["10.0.0.5"]))
    assert text.splitlines()[1] == '"/srv/k3s" 10.0.0.5(rw,sync,no_subtree_check,all_squash,anonuid=1024,anongid=100)'


def test_the_ganesha_block_has_a_stable_id_and_one_client_block_per_client():
    text = linux_exports.ganesha_text(EXPORT)
    assert "    Export_Id = %d;" % linux_exports.export_id("box") in text
    assert 100 <= linux_exports.export_id("box") < 60100
    assert linux_exports.export_id("box") != linux_exports.export_id("nas")
    assert '    CLIENT { Clients = 192.168.1.0/24; Access_Type = RW; }' in text
    assert "    Squash = No_Root_Squash;" in text and "    Protocols = 3, 4;" in text
    assert "    Protocols = 3;" in linux_exports.ganesha_text(dict(EXPORT, nfs_version="3"))


def test_values_that_would_break_the_file_are_refused_with_their_field():
    found = linux_exports.problems(dict(EXPORT, name="box\n/srv", path="/srv/k3s\n/etc", clients=["*(rw) evil", "nas.lan"],
                                        squash="no"))
    assert found[0].startswith("name = 'box\\n/srv': is not a short name")
    assert found[1].startswith("path = '/srv/k3s\\n/etc': is not a plain absolute path")
    assert found[2].startswith("clients[0] = '*(rw) evil': is not an address")
    assert found[3].startswith("clients[1] = 'nas.lan': is not an address or subnet (host names are not taken")
    assert found[4].startswith("squash = 'no': is not one of none, root, all")
    assert linux_exports.problems(dict(EXPORT, name="../../etc/cron.d/x"))[0].startswith("name = '../../etc/cron.d/x'")
    assert linux_exports.problems(dict(EXPORT, clients=[]))[0].startswith("clients: is empty")
    assert linux_exports.problems(EXPORT) == []
