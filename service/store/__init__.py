"""Operations on the stored searches, trials and datasets: one transaction each."""
