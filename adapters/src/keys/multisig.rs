//! Which of our stores must sign for an account to reach its threshold.
//!
//! A Stellar account lists its signers with weights (the master key among them) and a
//! threshold per operation class; offer operations need the medium threshold. A transaction
//! needs signatures whose weights sum to at least that threshold (and at least one signature),
//! and it fails with `txBAD_AUTH_EXTRA` if it carries a signature that was not needed. So the
//! plan takes our stores in the order given, skips keys the account does not weigh, and stops
//! as soon as the threshold is reached.

use starlog_engine::AccountId;

use super::{KeyError, KeyErrorKind};

/// An account's signers and the threshold a transaction must reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSigners {
    /// Each signer key and its weight (the master key's weight included; 0 means it cannot sign).
    pub weights: Vec<(AccountId, u8)>,
    /// The threshold to reach (the account's medium threshold, for offers).
    pub threshold: u8,
}

impl AccountSigners {
    /// An account signed by its master key alone (weight 1, thresholds 0): a new account.
    pub fn master_only(account: AccountId) -> AccountSigners {
        AccountSigners { weights: vec![(account, 1)], threshold: 0 }
    }

    fn weight(&self, key: &AccountId) -> u32 {
        self.weights.iter().filter(|(k, _)| k == key).map(|(_, w)| u32::from(*w)).max().unwrap_or(0)
    }

    /// Indices into `keys` (our stores' public keys, in preference order) of the stores that
    /// sign: the fewest, in order, that reach the threshold.
    pub fn plan(&self, keys: &[AccountId]) -> Result<Vec<usize>, KeyError> {
        let needed = u32::from(self.threshold).max(1);
        let mut reached = 0u32;
        let mut chosen = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            let weight = self.weight(key);
            if weight == 0 || chosen.iter().any(|&i: &usize| keys[i] == *key) {
                continue;
            }
            chosen.push(index);
            reached += weight;
            if reached >= needed {
                return Ok(chosen);
            }
        }
        Err(KeyError::new(
            KeyErrorKind::ThresholdNotMet,
            format!("our keys reach weight {reached} of the {needed} the account needs"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> AccountId {
        AccountId::from_bytes([n; 32])
    }

    #[test]
    fn plans_take_the_fewest_keys_in_order() {
        let account =
            AccountSigners { weights: vec![(key(1), 1), (key(2), 2), (key(3), 0), (key(4), 5)], threshold: 3 };
        assert_eq!(account.plan(&[key(1), key(2), key(4)]).unwrap(), vec![0, 1]);
        assert_eq!(account.plan(&[key(4), key(1)]).unwrap(), vec![0]);
        assert_eq!(account.plan(&[key(3), key(9), key(2), key(2), key(1)]).unwrap(), vec![2, 4]);
        let err = account.plan(&[key(1), key(3)]).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::ThresholdNotMet);
        assert_eq!(AccountSigners::master_only(key(7)).plan(&[key(8), key(7)]).unwrap(), vec![1]);
        assert!(AccountSigners::master_only(key(7)).plan(&[]).is_err());
    }
}
