#!/usr/bin/perl
# A second third-party registrar for the interop tests: Net::SIP's own Registrar behind its own
# Authorize (digest MD5, WWW-Authenticate), on UDP and TCP at 127.0.0.1:PORT. Everything that
# decides anything is Net::SIP's; this script only wires its objects together and answers the
# MESSAGEs that get past them (keepalives) with 200, as a GB28181 platform would.
#
#   netsip-registrar.pl PORT STATUS_FILE PASSWORDS_FILE AUTH MIN_EXPIRES MAX_EXPIRES
#
# AUTH is `register` (only REGISTER is challenged) or `all` (every request is, keepalive
# MESSAGEs included). PASSWORDS_FILE is a gbswarm device file (`id,password[,...]` or
# `id password` lines, `#` comments; no quoted fields). Every 100 ms STATUS_FILE is rewritten
# with Net::SIP's own numbers:
#   bindings N          contacts in the Registrar's store after its own expire()
#   aors N              addresses of record holding them
#   challenged METHOD N requests Net::SIP answered 401, by method
#   answered METHOD N   requests answered otherwise, by method and status (`200`, `423`, ...)
use strict;
use warnings;
use Net::SIP;
use Net::SIP::Registrar;
use Net::SIP::Authorize;
use Net::SIP::ReceiveChain;

my ($port, $status, $pwfile, $mode, $min, $max) = @ARGV;
die "usage: $0 PORT STATUS PASSWORDS register|all MIN MAX\n"
    unless defined $max && ($mode eq 'register' || $mode eq 'all');

my %pass;
open(my $fh, '<', $pwfile) or die "cannot read $pwfile: $!";
while (my $line = <$fh>) {
    $line =~ s/#.*//;
    $line =~ s/^\s+|\s+$//g;
    next if $line eq '';
    my ($id, $pw) = split(/\s*,\s*|\s+/, $line);
    next if !defined $pw || $id !~ /^\d{20}$/;
    $pass{$id} = $pw;
}
close $fh;

my $loop = Net::SIP::Dispatcher::Eventloop->new;
my @legs = map {
    Net::SIP::Leg->new(addr => '127.0.0.1', port => $port, proto => $_)
} qw(udp tcp);
my $disp = Net::SIP::Dispatcher->new(\@legs, $loop);

my $reg = Net::SIP::Registrar->new(
    dispatcher  => $disp,
    min_expires => $min,
    max_expires => $max,
);
my $auth = Net::SIP::Authorize->new(
    dispatcher => $disp,
    realm      => '3402000000',
    user2pass  => \%pass,
);

my (%challenged, %answered);

# Counts what Net::SIP's Authorize answered (401 when it challenged).
package Counted;
sub new { my ($c, $inner, $tally) = @_; bless { inner => $inner, tally => $tally }, $c }
sub receive {
    my ($self, $packet, $leg, $addr) = @_;
    my $code = $self->{inner}->receive($packet, $leg, $addr);
    $self->{tally}{$packet->method}{$code}++ if $code && $packet->is_request;
    return $code;
}

# Answers a MESSAGE (a keepalive) that got this far with 200, as a platform does.
package MessageOk;
sub new { bless {}, shift }
sub receive {
    my ($self, $packet, $leg, $addr) = @_;
    return if !$packet->is_request || $packet->method ne 'MESSAGE';
    $disp->deliver($packet->create_response('200', 'OK'), leg => $leg, dst_addr => $addr);
    return 200;
}

package main;

my $counted_auth = Counted->new($auth, \%challenged);
my $counted_reg = Counted->new($reg, \%answered);
my $counted_msg = Counted->new(MessageOk->new, \%answered);
my $chain = $mode eq 'all'
    ? Net::SIP::ReceiveChain->new([$counted_auth, $counted_reg, $counted_msg])
    : Net::SIP::ReceiveChain->new([
        Net::SIP::ReceiveChain->new([$counted_auth, $counted_reg], methods => ['REGISTER']),
        $counted_msg,
    ]);
$disp->set_receiver($chain);

sub write_status {
    $reg->expire;
    my $store = $reg->{store} || {};
    my $bindings = 0;
    $bindings += scalar(keys %{$store->{$_}}) for keys %$store;
    my $text = "bindings $bindings\naors " . scalar(keys %$store) . "\n";
    for my $m (sort keys %challenged) {
        $text .= "challenged $m " . ($challenged{$m}{401} || 0) . "\n";
    }
    for my $m (sort keys %answered) {
        $text .= "answered $m $_ $answered{$m}{$_}\n" for sort keys %{$answered{$m}};
    }
    open(my $out, '>', "$status.tmp") or return;
    print $out $text;
    close $out;
    rename "$status.tmp", $status;
}

$SIG{TERM} = sub { write_status(); exit 0 };
write_status();
$loop->add_timer(0.1, \&write_status, 0.1);
$loop->loop;
